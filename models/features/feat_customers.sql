{#-
    The wide feature row of every customer as of as_of_date: the input of
    every model's scoring step.
-#}
{{ customer_features_at([as_of_date()]) }}
