"""`hydra/launcher=ray` (conf/hydra/launcher/ray.yaml): sweep points as Ray tasks."""
