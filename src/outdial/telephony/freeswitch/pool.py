"""One Event Socket connection per FreeSWITCH node, shared by every line that uses the node."""

from __future__ import annotations

from dataclasses import dataclass, field

from outdial.telephony.freeswitch.config import Node
from outdial.telephony.freeswitch.connection import Backoff, EslConnection


@dataclass
class EslPool:
    backoff: Backoff = field(default_factory=Backoff)
    connections: dict[tuple[str, int, str], EslConnection] = field(default_factory=dict)
    users: dict[tuple[str, int, str], int] = field(default_factory=dict)

    def acquire(self, node: Node) -> EslConnection:
        """The node's connection (made and started on first use)."""
        connection = self.connections.get(node.key)
        if connection is None:
            connection = EslConnection(node.host, node.port, node.password, backoff=self.backoff)
            connection.start()
            self.connections[node.key] = connection
        self.users[node.key] = self.users.get(node.key, 0) + 1
        return connection

    async def release(self, node: Node) -> None:
        """One user less; the last one closes the connection."""
        left = self.users.get(node.key, 0) - 1
        if left > 0:
            self.users[node.key] = left
            return
        self.users.pop(node.key, None)
        connection = self.connections.pop(node.key, None)
        if connection is not None:
            await connection.close()
