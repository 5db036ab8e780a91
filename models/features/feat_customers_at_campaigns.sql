{#-
    The wide feature row of every customer as of each campaign assignment
    date (see campaign_cutoffs()): what the uplift models learn from.
-#}
{{ customer_features_at(campaign_cutoffs()) }}
