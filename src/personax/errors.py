"""Error types shared by the library. The CLI maps them to exit codes."""


class BadInput(ValueError):
    """The user's input is wrong (file, column, row or value). The CLI exits with code 2.

    The message must be one clear sentence naming the file, column, row or value at fault.
    """
