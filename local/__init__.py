"""Local tooling: the built-in model, the embedded AWS and the dev server. Never packaged into a function."""
