# OpenTrade's gateway (the engine with its HTTP/WebSocket API) as a container: see README,
# "Deployment". Build: docker build -t opentrade . ; with PostgreSQL: docker compose up.
# No secret is built in: the database password and venue keys come from the environment at run
# time (compose.yaml), and .dockerignore keeps secrets files and databases out of the context.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    OPENTRADE_HOME=/var/lib/opentrade

# The engine runs as its own user; the home (database, logs, tokens, gateway.json) is its only
# writable place, created here so that a new named volume takes its owner and mode.
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/opentrade opentrade \
    && mkdir -p /var/lib/opentrade \
    && chown opentrade:opentrade /var/lib/opentrade \
    && chmod 700 /var/lib/opentrade

COPY . /tmp/opentrade
RUN pip install "/tmp/opentrade[postgres]" && rm -rf /tmp/opentrade

VOLUME ["/var/lib/opentrade"]
USER opentrade
WORKDIR /home/opentrade
EXPOSE 18790

# /api/v1/health with the local token the gateway writes into the home: healthy while its
# engine runs.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 CMD ["opentrade", "health"]

# Inside the container the gateway listens on every interface of the container's network;
# --insecure says so at every start. compose.yaml publishes the port on the host's loopback only
# (reach it over an SSH tunnel, or set gateway.tls_cert and tls_key and drop --insecure).
ENTRYPOINT ["opentrade"]
CMD ["gateway", "--host", "0.0.0.0", "--insecure"]
