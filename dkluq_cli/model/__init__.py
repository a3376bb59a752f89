"""The deep kernel learning model: SN-ResNet feature extractor + sparse variational GP head."""
