"""Recipes: the typed YAML that configures a run (schema), how it loads (loader), what it will do (plan)."""
