"""All of the membership service's SQL, one module per table group. Values always travel as
`%s` parameters; the few statements assembled in Python join constants of these modules only."""
