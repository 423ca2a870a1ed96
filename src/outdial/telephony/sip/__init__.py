"""SIP straight to a trunk: a signalling-only asyncio user agent client (docs/telephony.md)."""
