"""The Catalog view: every entry's rates with its source link and checked date."""

from __future__ import annotations

from datetime import date

import pandas as pd  # type: ignore[import-untyped]
import streamlit as st

from ..core.catalog import Catalog
from ..core.rates import KINDS, ModelEntry, PricePeriod


def rate_summary(e: ModelEntry, p: PricePeriod | None) -> str:
    """The entry's rates as text (display only)."""
    if e.selfhost is not None:
        sh = e.selfhost
        return (f"{sh.gpus} × {sh.runs_on} / {sh.concurrent_sessions} sessions "
                f"@ {float(sh.utilization):.0%}")
    if p is None:
        return ""
    parts = [f"{m} " + " · ".join(f"{float(r[s]):g}" if s in r else "-"
                                  for s in ("input", "cached", "output"))
             for m, r in p.tokens.items()]
    parts += [f"{n} ${float(tr.per_minute):g}/min" for n in ("connection", "audio")
              if (tr := getattr(p, n)) is not None]
    parts += [f"${float(p.characters.usd_per_mchar):g}/1M chars"] if p.characters else []
    parts += [f"${float(p.gpu.usd_per_hour):g}/GPU-h"] if p.gpu else []
    return "; ".join(parts)


def view_catalog(catalog: Catalog) -> None:
    c1, c2, c3 = st.columns([2, 1, 1])
    kinds = c1.multiselect("Kinds", list(KINDS), key="cat_kinds")
    max_age = c2.number_input("Stale after (days)", 1, 3650, 90, key="cat_age")
    only_stale = c3.toggle("Only stale", key="cat_stale")
    today = date.today()
    stale = dict(catalog.stale(int(max_age), today))
    rows = []
    for e in catalog:
        if kinds and e.kind not in kinds or only_stale and e.id not in stale:
            continue
        p = e.period_on(today) or (e.prices[-1] if e.prices else None)
        prov = p or e.selfhost
        rows.append({"Stale": "⚠ stale" if e.id in stale else "", "Id": e.id, "Kind": e.kind,
                     "Name": e.name, "Rates": rate_summary(e, p),
                     "Effective": p.effective if p else None,
                     "Checked": prov.checked if prov else None,
                     "Confidence": prov.confidence if prov else None,
                     "Source": prov.source if prov else None})
    st.caption(f"{len(rows)} entries; {len(stale)} checked more than {max_age} days ago. "
               "Token rates in USD per 1M tokens (input · cached · output).")
    st.dataframe(pd.DataFrame(rows), hide_index=True, height=520,
                 column_config={"Source": st.column_config.LinkColumn("Source")})
