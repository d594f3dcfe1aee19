"""The Textual dashboard: widgets, screens and the app. Only this package imports Textual."""
