{#-
    The same feature row at each training cutoff (as_of_date minus each
    prediction window); joined to the lbl_ tables on (customer_id,
    cutoff_date) to train models.
-#}
{{ customer_features_at(all_training_cutoffs()) }}
