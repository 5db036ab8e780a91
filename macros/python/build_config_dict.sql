{% macro build_config_dict(model) %}
{#-
    dbt's build_config_dict (the config that dbt.config.get reads in a
    Python model), with run_id set to this invocation's id. A config value
    "{{ invocation_id }}" in YAML is rendered when the project is parsed, so
    a build that reuses a saved parse (partial parsing, the default when
    nothing changed) would get the id of an earlier build: registry rows of
    two builds would share a run_id and score models would pick another
    build's run.
-#}
{{ dbt.build_config_dict(model) }}
{%- if 'run_id' in model.config.config_keys_used %}
config_dict["run_id"] = "{{ invocation_id }}"
{%- endif %}
{% endmacro %}
