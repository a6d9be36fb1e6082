"""Model-level metrics of the SAR-optical (SHAPE), bioclimatic and CSP studies."""
