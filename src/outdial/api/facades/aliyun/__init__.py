"""The Alibaba Cloud OutboundBot 2019-12-26 facade (seed 000): RPC at ``/``."""

from outdial.api.facades.aliyun.files import UPLOAD_PATH
from outdial.api.facades.aliyun.router import router

__all__ = ["UPLOAD_PATH", "router"]
