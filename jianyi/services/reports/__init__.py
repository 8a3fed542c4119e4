"""The periodic reports (周汇总, 月通报, 季督查, 半年报告, 年度总结): freeze a period's figures
(``freeze``), lay them out (``view``, ``charts``), render HTML and PDF (``render``), mail them
(``mail``), and who reads them (``access``). The flow is ``jianyi.flows.reports``."""
