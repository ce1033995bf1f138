"""`opentrade web`: the Textual app in a browser (textual-serve), with a login in front of it.

A package beside ``tui/`` and ``gateway/``: it never imports the app (each browser session runs
the app as its own process) and takes from the gateway only its token store and address rules.
"""
