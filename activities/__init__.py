"""Activities: the engine's side effects, each a small class holding its dependencies, writing through ``store``."""
