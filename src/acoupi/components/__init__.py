"""Components that acoupi programs are assembled from."""
