"""What the Streamlit dashboard (`app.py`) shows, as plain functions: its inputs as widget
values and back (`inputs`), and the view model of its results (`model`): headline, labels,
colours, tables, exports. `app.py` only draws them."""
