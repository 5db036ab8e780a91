{#
    `unassigned_when` of covers_population and min_group_size: the rows
    whose assignment (e.g. segment_id) is null because the model family
    that assigns it has no published model, told by a status column of the
    model, e.g.

        unassigned_when:
          column: segment_status
          values: [insufficient_data, rejected, never_trained]
          note_column: segment_note   # optional: the reason, logged

    A null assignment on a row whose `column` is one of `values` is not a
    violation; each test logs, in its own words, how many rows that is and
    why (the note). A null on any other row still is.
#}
{% macro unassigned_when_spec(test_name, unassigned_when) -%}
    {#- The checked argument as {column, values, note_column}, or none. -#}
    {%- if unassigned_when is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set example = " e.g. {column: segment_status, values: "
        ~ "[insufficient_data, rejected, never_trained], "
        ~ "note_column: segment_note}" -%}
    {%- if unassigned_when is not mapping -%}
        {{ exceptions.raise_compiler_error(
            test_name ~ ": `unassigned_when` must be a mapping naming the "
            ~ "status column and the statuses that leave the assignment "
            ~ "null (got " ~ unassigned_when ~ ")," ~ example ~ ".") }}
    {%- endif -%}
    {%- set unknown = [] -%}
    {%- for key in unassigned_when
        if key not in ['column', 'values', 'note_column'] -%}
        {%- do unknown.append(key) -%}
    {%- endfor -%}
    {%- if unknown -%}
        {{ exceptions.raise_compiler_error(
            test_name ~ ": `unassigned_when` has unknown keys "
            ~ unknown | join(', ') ~ "; it takes column, values and "
            ~ "note_column," ~ example ~ ".") }}
    {%- endif -%}
    {%- set column = unassigned_when.get('column') -%}
    {%- set values = unassigned_when.get('values') -%}
    {%- set note_column = unassigned_when.get('note_column') -%}
    {%- if column is not string or not column -%}
        {{ exceptions.raise_compiler_error(
            test_name ~ ": `unassigned_when.column` must name the status "
            ~ "column of the model (got " ~ column ~ ")," ~ example ~ ".") }}
    {%- endif -%}
    {%- if values is string or values is mapping or values is none
        or values | length == 0 -%}
        {{ exceptions.raise_compiler_error(
            test_name ~ ": `unassigned_when.values` must be a non-empty list "
            ~ "of the statuses that leave the assignment null (got "
            ~ values ~ ")," ~ example ~ ".") }}
    {%- endif -%}
    {%- if note_column is not none
        and (note_column is not string or not note_column) -%}
        {{ exceptions.raise_compiler_error(
            test_name ~ ": `unassigned_when.note_column` must name the "
            ~ "column with the reason (got " ~ note_column ~ ")," ~ example
            ~ ", or be left out.") }}
    {%- endif -%}
    {{ return({'column': column, 'values': values,
        'note_column': note_column}) }}
{%- endmacro %}


{% macro unassigned_when_condition(spec) -%}
    {#- SQL: the row's status is one that leaves the assignment null. -#}
    {{ spec.column }} in (
        {%- for value in spec['values'] -%}
        '{{ value | string | replace("'", "''") }}'
        {%- if not loop.last %}, {% endif -%}
        {%- endfor -%}
    )
{%- endmacro %}


{% macro log_unassigned_when(model, test_name, assigned_column, noun, spec) -%}
    {#-
        Logs one line per status and note: "<test_name>: <assigned_column>
        is null for all 50 customers: <status column> is <status> (<note>)".
        Only while executing and when the model exists (not while parsing,
        rendering or compiling before a build).
    -#}
    {%- if not execute or spec is none or render_only() -%}
        {{ return('') }}
    {%- endif -%}
    {%- if model.identifier is defined -%}
        {%- set existing = adapter.get_relation(
            database=model.database, schema=model.schema,
            identifier=model.identifier) -%}
        {%- if existing is none -%}
            {{ return('') }}
        {%- endif -%}
    {%- endif -%}
    {%- set note = spec.note_column or "cast(null as "
        ~ dbt.type_string() ~ ")" -%}
    {%- set query -%}
        select
            cast({{ spec.column }} as {{ dbt.type_string() }}) as status,
            cast({{ note }} as {{ dbt.type_string() }}) as note,
            count(*) as unassigned_rows,
            (select count(*) from {{ model }}) as all_rows
        from {{ model }}
        where
            {{ assigned_column }} is null
            and {{ unassigned_when_condition(spec) }}
        group by 1, 2
        order by 3 desc, 1, 2
    {%- endset -%}
    {%- set result = run_query(query) -%}
    {%- for row in result.rows -%}
        {%- set count = row[2] | int -%}
        {%- set total = row[3] | int -%}
        {%- set how_many = ("all " ~ total) if count == total
            else (count ~ " of " ~ total) -%}
        {%- set message = test_name ~ ": " ~ assigned_column ~ " is null for "
            ~ how_many ~ " " ~ noun ~ " because " ~ spec.column ~ " is "
            ~ row[0] ~ (": " ~ row[1] if row[1] else "")
            ~ (("; see " ~ spec.note_column) if spec.note_column else "")
            ~ " (not a failure: unassigned_when)" -%}
        {{ log(message, info=True) }}
    {%- endfor -%}
    {{ return('') }}
{%- endmacro %}
