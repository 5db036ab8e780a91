{#
    Audiences: defined in ONE place, the seed audience_rules
    (seeds/audience_rules.csv), one row per condition:
        audience_id, audience_name, description, column_name, operator, value
    The conditions of one audience are ANDed; a customer whose column is null
    is not a member. A marketer adds an audience by adding rows, no SQL.
    audiences() reads and validates the seed when dbt executes and returns
    the audiences with their SQL conditions; fct_audience_members,
    dim_audiences and the is_in_<audience_id> columns of fct_customer_segments
    all render from it, over int_customer_scores_banded.
#}

{% macro audience_rule_columns() -%}
    {#-
        The columns a rule may test (all in int_customer_scores_banded), with
        their kind and, for labels, the values they take. Sensitive and
        demographic attributes are deliberately absent: audiences must not be
        built on them (rpt_fairness checks their inclusion rates).
    -#}
    {{ return({
        'segment_id': {'kind': 'text'},
        'segment_name': {'kind': 'text'},
        'value_tier': {'kind': 'text',
            'values': ['high', 'medium', 'low', 'unscored']},
        'churn_risk_band': {'kind': 'text',
            'values': ['high', 'medium', 'low', 'not_applicable', 'unscored']},
        'lifecycle_stage': {'kind': 'text',
            'values': ['prospect', 'new', 'active', 'lapsed']},
        'uplift_group': {'kind': 'text',
            'values': ['persuadable', 'sure thing', 'lost cause',
                       'sleeping dog']},
        'high_intent_reason': {'kind': 'text',
            'values': ['cart_abandonment', 'pricing_views', 'both']},
        'predicted_clv': {'kind': 'number'},
        'predicted_clv_p10': {'kind': 'number'},
        'predicted_clv_p50': {'kind': 'number'},
        'predicted_clv_p90': {'kind': 'number'},
        'p_alive': {'kind': 'number'},
        'churn_probability': {'kind': 'number'},
        'purchase_probability': {'kind': 'number'},
        'lookalike_score': {'kind': 'number'},
        'lookalike_percentile': {'kind': 'number'},
        'lookalike_tier': {'kind': 'number'},
        'uplift_score': {'kind': 'number'},
        'is_rising_value': {'kind': 'boolean'},
        'is_lookalike_seed': {'kind': 'boolean'},
        'is_high_intent': {'kind': 'boolean'},
    }) }}
{%- endmacro %}


{% macro audience_rule_operators() -%}
    {#- Operator -> the kinds of column it applies to. -#}
    {{ return({
        '=': ['text', 'number', 'boolean'],
        '!=': ['text', 'number', 'boolean'],
        'in': ['text', 'number'],
        '>=': ['number'],
        '<=': ['number'],
        '>': ['number'],
        '<': ['number'],
    }) }}
{%- endmacro %}


{% macro builtin_audience_ids() -%}
    {#-
        Audiences published as boolean columns is_in_<audience_id> of
        fct_customer_segments (its contract lists them). They must stay in the
        seed; any other audience is published in fct_audience_members and
        dim_audiences only, so that adding one never breaks the contract.
    -#}
    {{ return([
        'high_value_persuadables',
        'at_risk_high_value',
        'rising_value',
        'lookalike_top_1',
        'lookalike_top_5',
        'lookalike_top_10',
        'high_purchase_intent',
    ]) }}
{%- endmacro %}


{% macro audiences() -%}
    {#-
        [{audience_id, audience_name, description, rules: [{column_name,
        operator, value, sql}], rule_text}], ordered by audience_id. When SQL
        is only rendered (parsing, sqlfluff with var render_only) the seed is
        not read: each built-in audience gets a placeholder rule, so that the
        models render with their real shape.
    -#}
    {%- set seed = ref('audience_rules') -%}
    {%- if not execute or render_only() -%}
        {%- set placeholders = [] -%}
        {%- for audience_id in builtin_audience_ids() -%}
            {%- do placeholders.append(audience_from_rows(audience_id, [
                {'audience_name': audience_id, 'description': audience_id,
                 'column_name': 'value_tier', 'operator': '=',
                 'value': 'high'}])) -%}
        {%- endfor -%}
        {{ return(placeholders) }}
    {%- endif -%}
    {%- set result = run_query(
        "select audience_id, audience_name, description, column_name, "
        ~ "operator, value from " ~ seed
        ~ " order by audience_id, column_name, operator, value") -%}
    {%- set grouped = {} -%}
    {%- set order = [] -%}
    {%- for row in result.rows -%}
        {%- set audience_id = (row['audience_id'] or '') | trim -%}
        {%- if not modules.re.fullmatch('[a-z][a-z0-9_]*', audience_id) -%}
            {{ exceptions.raise_compiler_error(
                "seeds/audience_rules.csv: audience_id '" ~ audience_id
                ~ "' is not valid; use lower-case letters, digits and "
                ~ "underscores, starting with a letter (e.g. "
                ~ "high_value_persuadables).") }}
        {%- endif -%}
        {%- if audience_id not in grouped -%}
            {%- do grouped.update({audience_id: []}) -%}
            {%- do order.append(audience_id) -%}
        {%- endif -%}
        {%- do grouped[audience_id].append({
            'audience_name': (row['audience_name'] or '') | trim,
            'description': (row['description'] or '') | trim,
            'column_name': (row['column_name'] or '') | trim | lower,
            'operator': (row['operator'] or '') | trim | lower,
            'value': (row['value'] or '') | trim}) -%}
    {%- endfor -%}
    {%- for audience_id in builtin_audience_ids() -%}
        {%- if audience_id not in grouped -%}
            {{ exceptions.raise_compiler_error(
                "seeds/audience_rules.csv has no rules for the built-in "
                ~ "audience '" ~ audience_id ~ "': fct_customer_segments "
                ~ "publishes it as column is_in_" ~ audience_id ~ ". Restore "
                ~ "its rows, or remove it from builtin_audience_ids() "
                ~ "(macros/marts/audiences.sql) and the column from "
                ~ "models/marts/_marts__models.yml.") }}
        {%- endif -%}
    {%- endfor -%}
    {%- set audiences = [] -%}
    {%- for audience_id in order -%}
        {%- do audiences.append(
            audience_from_rows(audience_id, grouped[audience_id])) -%}
    {%- endfor -%}
    {{ return(audiences) }}
{%- endmacro %}


{% macro audience_from_rows(audience_id, rows) -%}
    {#- One audience from its seed rows; raises on any invalid rule. -#}
    {%- set names = rows | map(attribute='audience_name') | reject('equalto', '')
        | unique | list -%}
    {%- set descriptions = rows | map(attribute='description')
        | reject('equalto', '') | unique | list -%}
    {%- if names | length != 1 or descriptions | length > 1 -%}
        {{ exceptions.raise_compiler_error(
            "seeds/audience_rules.csv, audience '" ~ audience_id ~ "': give "
            ~ "it one audience_name and at most one description (repeat them "
            ~ "on each of its rows or leave them empty after the first); found "
            ~ "names " ~ names ~ " and descriptions " ~ descriptions ~ ".") }}
    {%- endif -%}
    {%- set rules = [] -%}
    {%- for row in rows -%}
        {%- do rules.append(audience_rule(audience_id, row)) -%}
    {%- endfor -%}
    {{ return({
        'audience_id': audience_id,
        'audience_name': names[0],
        'description': descriptions[0] if descriptions else '',
        'rules': rules,
        'rule_text': rules | map(attribute='sql') | join(' and '),
    }) }}
{%- endmacro %}


{% macro audience_rule(audience_id, row) -%}
    {#- A validated rule with its SQL condition over unqualified columns. -#}
    {%- set columns = audience_rule_columns() -%}
    {%- set operators = audience_rule_operators() -%}
    {%- set where = "seeds/audience_rules.csv, audience '" ~ audience_id
        ~ "', rule '" ~ row.column_name ~ " " ~ row.operator ~ " "
        ~ row.value ~ "': " -%}
    {%- if row.column_name not in columns -%}
        {{ exceptions.raise_compiler_error(where ~ "unknown column '"
            ~ row.column_name ~ "'; use one of "
            ~ (columns.keys() | list | join(', ')) ~ ".") }}
    {%- endif -%}
    {%- set column = columns[row.column_name] -%}
    {%- if row.operator not in operators -%}
        {{ exceptions.raise_compiler_error(where ~ "unknown operator '"
            ~ row.operator ~ "'; use one of "
            ~ (operators.keys() | list | join(', ')) ~ ".") }}
    {%- endif -%}
    {%- if column.kind not in operators[row.operator] -%}
        {%- set usable = [] -%}
        {%- for operator, kinds in operators.items() -%}
            {%- if column.kind in kinds -%}{%- do usable.append(operator) -%}{%- endif -%}
        {%- endfor -%}
        {{ exceptions.raise_compiler_error(where ~ "operator '"
            ~ row.operator ~ "' does not apply to the " ~ column.kind
            ~ " column " ~ row.column_name ~ "; use one of "
            ~ (usable | join(', ')) ~ ".") }}
    {%- endif -%}
    {%- set items = row.value.split('|') if row.operator == 'in'
        else [row.value] -%}
    {%- set literals = [] -%}
    {%- for item in items -%}
        {%- set item = item | trim -%}
        {%- if item == '' -%}
            {{ exceptions.raise_compiler_error(where ~ "the value is empty; "
                ~ "give one (for 'in', several separated by |).") }}
        {%- elif column.kind == 'number' -%}
            {%- if not modules.re.fullmatch('-?[0-9]+(\\.[0-9]+)?', item) -%}
                {{ exceptions.raise_compiler_error(where ~ "'" ~ item
                    ~ "' is not a number; " ~ row.column_name
                    ~ " is numeric (e.g. 0.5).") }}
            {%- endif -%}
            {%- do literals.append(item) -%}
        {%- elif column.kind == 'boolean' -%}
            {%- if item | lower not in ['true', 'false'] -%}
                {{ exceptions.raise_compiler_error(where ~ "'" ~ item
                    ~ "' is not true or false; " ~ row.column_name
                    ~ " is a flag.") }}
            {%- endif -%}
            {%- do literals.append(item | lower) -%}
        {%- else -%}
            {%- if column.get('values') and item not in column['values'] -%}
                {{ exceptions.raise_compiler_error(where ~ "'" ~ item
                    ~ "' is not a value of " ~ row.column_name ~ "; use one of "
                    ~ (column['values'] | join(', ')) ~ ".") }}
            {%- endif -%}
            {%- do literals.append("'" ~ item | replace("'", "''") ~ "'") -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if row.operator == 'in' -%}
        {%- set sql = row.column_name ~ " in (" ~ literals | join(', ') ~ ")" -%}
    {%- else -%}
        {%- set sql = row.column_name ~ " " ~ row.operator ~ " "
            ~ literals[0] -%}
    {%- endif -%}
    {{ return({'column_name': row.column_name, 'operator': row.operator,
               'value': row.value, 'sql': sql}) }}
{%- endmacro %}


{% macro audience_condition(audience, relation_alias) -%}
    {#-
        Membership of `audience` as a boolean expression over the columns of
        `relation_alias` (a relation shaped like int_customer_scores_banded):
        every rule holds; a null makes it false.
    -#}
    coalesce(
        {%- for rule in audience.rules %}
        {{ relation_alias }}.{{ rule.sql }}{{ ' and' if not loop.last }}
        {%- endfor %},
        false
    )
{%- endmacro %}
