"""``getResolvedOptions``: read named ``--NAME value`` arguments from Glue's argv."""


class GlueArgumentError(Exception):
    """A named argument is missing (the real one subclasses ``Exception`` too)."""


def getResolvedOptions(args, options):  # noqa: N802 - Glue's own name
    """``{name: value}`` for each name of ``options``, read from ``args`` (Glue passes ``sys.argv``)."""
    resolved = {}
    for name in options:
        flag = f"--{name}"
        if flag not in args:
            raise GlueArgumentError(f"the following arguments are required: {flag}")
        index = args.index(flag)
        resolved[name] = args[index + 1] if index + 1 < len(args) else ""
    return resolved
