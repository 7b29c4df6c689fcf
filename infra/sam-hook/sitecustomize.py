"""Loaded at start-up by the `sam` process alone (infra/sam-local.sh puts this directory on its
PYTHONPATH): gives SAM's Lambda containers host networking.

The Docker daemon here has no bridge network, and SAM 1.170's `--docker-network host` still
publishes the emulator's port 8080, which a bridge-less container cannot serve. So a Lambda container is created with `network_mode="host"`, no port
bindings, and the runtime interface emulator told to listen on the host port SAM picked (and to
serve the runtime API on a free port of its own, so two containers never share 9001).
"""

import socket


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _install():
    try:
        from docker.models.containers import ContainerCollection
    except ImportError:
        return
    original = ContainerCollection.create

    def create(self, image, command=None, **kwargs):
        ports = kwargs.get("ports") or {}
        rie = ports.get("8080")
        entrypoint = kwargs.get("entrypoint")
        if (
            rie
            and isinstance(entrypoint, list)
            and entrypoint
            and entrypoint[0].endswith("aws-lambda-rie")
        ):
            _, host_port = rie
            kwargs.pop("ports")
            kwargs["network_mode"] = "host"
            kwargs["entrypoint"] = entrypoint + [
                "--runtime-interface-emulator-address",
                f"127.0.0.1:{host_port}",
                "--runtime-api-address",
                f"127.0.0.1:{_free_port()}",
            ]
        return original(self, image, command, **kwargs)

    ContainerCollection.create = create


_install()
