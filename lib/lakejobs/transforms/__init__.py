"""Pure ``DataFrame -> DataFrame`` transforms, made to chain with ``df.transform``."""
