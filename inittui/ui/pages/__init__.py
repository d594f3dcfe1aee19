"""The dashboard's five pages, one file each: each composes its widgets and draws them from the view model."""
