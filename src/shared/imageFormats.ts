/** Image file extensions ViT Inspector reads (sharp's decoders as built), lower case, without the dot. */
export const IMAGE_EXTENSIONS = ['png', 'jpg', 'jpeg', 'webp', 'gif', 'tif', 'tiff', 'avif'] as const;
