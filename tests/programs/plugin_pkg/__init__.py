"""A program package written the way the acoupi_batdetect2 plugin is."""
