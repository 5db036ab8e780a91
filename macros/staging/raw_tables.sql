{#
    The raw tables of the contract and the key that identifies a row of each:
    one list, used by the quarantine model and the reconciliation tests.
#}
{% macro raw_table_keys() -%}
    {{ return({
        'customers': ['customer_id'],
        'orders': ['order_id'],
        'products': ['product_id'],
        'order_items': ['order_item_id'],
        'events': ['event_id'],
        'email_events': ['email_event_id'],
        'support_tickets': ['ticket_id'],
        'campaign_assignments': ['campaign_id', 'customer_id'],
    }) }}
{%- endmacro %}
