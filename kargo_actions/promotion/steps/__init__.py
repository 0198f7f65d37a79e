"""Built-in promotion steps, one module per step; `registry.py` maps step names to them."""
