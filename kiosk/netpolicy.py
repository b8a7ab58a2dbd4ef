"""The console unit's network drop-in for the opt-in exporters, generated from the config.

The kiosk unit has no network (PrivateNetwork=yes, IPAddressDeny=any). With [metrics] or
[mqtt] on, `hw/install.sh` writes what this returns to
/etc/systemd/system/smile-mirror.service.d/network.conf: the network namespace is opened, but
the IP firewall still denies every peer except exactly the broker's address and the
configured scrapers (localhost by default), and the process may bind only the metrics port.
Both off: no drop-in, and the unit stays offline.
"""

from __future__ import annotations

import ipaddress

from core.config import Config
from core.errors import ConfigError

PATH = "/etc/systemd/system/smile-mirror.service.d/network.conf"


def _ip(value: str, what: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        raise ConfigError(f"{what} = {value!r} must be an IP address (or a network such as 10.0.0.0/24): the "
                          f"kiosk's firewall allows addresses, and it has no DNS") from None


def network_dropin(config: Config, *, desktop: bool = False) -> str:
    """The drop-in text, or "" when both exporters are off. The desktop unit (a user service,
    whose manager has no IP firewall) only gets the IP address families."""
    m, q = config.metrics, config.mqtt
    if not (m.enabled or q.enabled):
        return ""
    if desktop:
        return ("# Written by hw/install.sh: the opt-in exporters ([metrics], [mqtt]) need IP sockets.\n"
                "[Service]\nRestrictAddressFamilies=AF_UNIX AF_NETLINK AF_INET AF_INET6\n")
    allow: list[str] = []
    lines = ["# Written by hw/install.sh from /etc/smile-mirror/config.toml ([metrics], [mqtt]); re-run the",
             "# installer after changing them. The exporters send anonymous counts only.", "[Service]",
             "# Relaxation: the exporters need sockets; the IP firewall below still denies every other peer.",
             "PrivateNetwork=no", "RestrictAddressFamilies=AF_UNIX AF_NETLINK AF_INET AF_INET6",
             "IPAddressDeny=any"]
    if q.enabled:
        if not q.host:
            raise ConfigError("mqtt.enabled = true needs mqtt.host = the broker's IP address")
        allow.append(_ip(q.host, "mqtt.host"))
    if m.enabled:
        scrapers = m.allow_from.split() or ["127.0.0.0/8", "::1/128"]
        allow += [_ip(s, "metrics.allow_from") for s in scrapers]
        lines += [f"SocketBindAllow=tcp:{m.port}", "SocketBindDeny=any"]
    else:
        lines += ["SocketBindDeny=any"]
    lines.append("IPAddressAllow=" + " ".join(dict.fromkeys(allow)))
    return "\n".join(lines) + "\n"
