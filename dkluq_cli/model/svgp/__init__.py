"""The paper's deep kernel learning head for large tables: the spectrally normalised residual
network (:mod:`.spectral_norm`, :mod:`.resnet`), the sparse variational GP (:mod:`.gp`), fuzzy
c-means inducing points (:mod:`.inducing`), the two assembled (:mod:`.dkl`) and served behind the
head protocol (:mod:`.head`)."""
