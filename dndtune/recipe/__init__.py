"""Recipes: the typed YAML that configures a run (schema), how it is loaded (loader), what it will do (plan)."""
