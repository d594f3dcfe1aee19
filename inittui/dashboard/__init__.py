"""The dashboard's Textual-free side: where its events come from and the state folded from them."""
