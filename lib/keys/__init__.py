"""Where provider keys come from: an environment variable, Secrets Manager or SSM, cached and
re-read when a provider refuses a key, so a rotated key is picked up without a redeploy.

May import lib.core and lib.platform only.
"""
