# The agent of the real-node suite: Claude Code and Codex CLI at the versions
# e2e/meter/clients pins, on Debian's Node.js. Built from the repository root:
#
#   docker build --network host -f e2e/realnode/agent.Dockerfile -t agentbudget-e2e/agent:TAG \
#     --secret id=host-ca,src=/etc/ssl/certs/ca-certificates.crt .
#
# It carries no provider key and no base URL: the webhook injects both (the URLs point at
# the meter sidecar; the key stays with the meter).

FROM debian:bookworm-slim AS install
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      ca-certificates nodejs npm \
 && rm -rf /var/lib/apt/lists/*
COPY e2e/meter/clients/package.json e2e/meter/clients/package-lock.json /opt/clients/
# The builder's certificate authorities (secret host-ca, optional): where the host reaches
# the npm registry through a TLS-inspecting proxy, npm inside the build trusts it too.
RUN --mount=type=secret,id=host-ca \
    NODE_EXTRA_CA_CERTS=/run/secrets/host-ca npm ci --prefix /opt/clients --no-audit --no-fund --loglevel=error

FROM debian:bookworm-slim
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      ca-certificates nodejs \
 && rm -rf /var/lib/apt/lists/* /var/cache/debconf/*-old /var/log/*
COPY --from=install /opt/clients/node_modules /opt/clients/node_modules
ENV PATH=/opt/clients/node_modules/.bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/home/agent
RUN mkdir -p /home/agent && chown 1000:1000 /home/agent
USER 1000:1000
WORKDIR /home/agent
