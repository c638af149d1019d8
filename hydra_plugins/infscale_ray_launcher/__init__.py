"""`hydra/launcher=infscale_ray` (conf/hydra/launcher/infscale_ray.yaml): sweep points as Ray tasks."""
