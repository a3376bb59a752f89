"""The exact GP head for small tables: the kernel terms (:mod:`.kernel`: a polynomial of the
strain with its coefficients integrated out, a group-averaged Matérn), their hyperparameters and
priors (:mod:`.hyperparameters`), the fitted head (:mod:`.head`), and its cross-validation with
the hyperparameters refitted per fold (:mod:`.cross_validation`)."""
