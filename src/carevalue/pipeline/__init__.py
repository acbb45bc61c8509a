"""Engine stages: each reads the store and writes its declared tables."""
