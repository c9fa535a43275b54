"""晴雨表 Qingyubiao: the shared kernel (domain, config, series index, batches, wire formats)."""

__version__ = "0.1.0"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"  # every qyb process, the decoder child too
