"""The self-contained HTML dashboard of the BI marts (`build_dashboard`), see docs/bi.md."""

from orchestration.dashboard.build import (
    DashboardError,
    NothingToShowError,
    build_dashboard,
    load_dashboard_data,
)

__all__ = ["DashboardError", "NothingToShowError", "build_dashboard", "load_dashboard_data"]
