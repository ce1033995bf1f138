"""A client of the gateway (``opentrade gateway``): REST calls returning the core's models, and
the event stream with resume. It imports only the core, so any front end can use it: the
scriptable commands now, the terminal app attached to a gateway later.

``discovery.find`` says where the gateway is and which token to use; ``http.GatewayClient``
makes the calls; ``stream.EventStream`` yields the stream's messages across reconnects;
``mirror.Mirror`` keeps the account as the messages describe it.
"""
