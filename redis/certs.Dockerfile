# The nodes' image plus openssl, for redis/make-certs.sh: the official Redis
# and Valkey images lack it (the Debian stand-ins have it, so this builds
# without a network there). docker-compose.tls.yml passes the nodes' image.
ARG REDIS_IMAGE=redis:8.10.2
FROM ${REDIS_IMAGE}
USER root
RUN command -v openssl || { apt-get update && apt-get install -y --no-install-recommends openssl && rm -rf /var/lib/apt/lists/*; }
