"""The members app's pages, by shell: ``console/`` (operators), ``counter.py`` (clerks) and
``portal.py`` (members); ``profile_pages.py`` holds the Member 360 page and the profile sections
the three share."""
