"""sectorbot's finding side: embeddings, the FAISS index, hybrid search and answers."""
