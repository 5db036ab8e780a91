{% macro age_band(age) -%}
    {#-
        Age band of an age in whole years (as_of_date year minus birth year):
        under 18, 18-24, 25-34, 35-44, 45-54, 55-64, 65+; null when unknown.
        SENSITIVE: for fairness monitoring only, never a model feature.
    -#}
    case
        when ({{ age }}) is null then null
        when ({{ age }}) < 18 then 'under 18'
        when ({{ age }}) < 25 then '18-24'
        when ({{ age }}) < 35 then '25-34'
        when ({{ age }}) < 45 then '35-44'
        when ({{ age }}) < 55 then '45-54'
        when ({{ age }}) < 65 then '55-64'
        else '65+'
    end
{%- endmacro %}
