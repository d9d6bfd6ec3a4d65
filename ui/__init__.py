"""Streamlit helpers shared by the pages: session state, the sidebar, figures. No model code."""
