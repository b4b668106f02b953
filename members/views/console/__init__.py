"""The members app in the operators' console."""
