"""The office's cycles across many suggestions: the digest of important suggestions to the city's
leaders (人民建议摘报, ``digest``), its rendering (``digest_render``) and mail (``digest_mail``), and
the leaders' instructions per item (``instructions``). The flow is ``jianyi.flows.digest``."""
