/** Word lists the synthetic demo data is made of. Every name is invented. */

export const ADJECTIVES = [
  'Golden', 'Lucky', 'Royal', 'Star', 'Prime', 'Eastern', 'Silver', 'Happy', 'Bright', 'Grand', 'Ocean', 'Dragon',
  'Phoenix', 'Jade', 'Crystal', 'Sunrise', 'Blue Sky', 'Red Maple', 'Urban', 'Elite', 'Harbor', 'Summit', 'Velvet', 'Nova',
] as const;

export const NOUNS = [
  'Trading', 'Fashion', 'Outlet', 'Goods', 'Style', 'Luxury', 'Deals', 'Bags', 'Watches', 'Sports', 'Beauty',
  'Electronics', 'Home', 'Shoes', 'Accessories', 'Supply', 'Imports', 'Market', 'Brands', 'Direct',
] as const;

export const COMPANY_SUFFIXES = ['Co.', 'Ltd', 'Store', 'Shop', 'Trading Co., Ltd.', 'Official Store', 'Wholesale', 'Boutique', 'LLC', 'Outlet'] as const;

export const FIRST_NAMES = [
  'Wei', 'Li', 'Jun', 'Mei', 'Hao', 'Ana', 'Marco', 'Sofia', 'James', 'Olivia', 'Daniel', 'Priya', 'Ahmed', 'Elena', 'Lucas',
  'Hana', 'Tomasz', 'Grace', 'Mateo', 'Chloe', 'Ivan', 'Yuki', 'Omar', 'Lena',
] as const;

export const LAST_NAMES = [
  'Zhang', 'Chen', 'Wang', 'Liu', 'Rossi', 'Garcia', 'Smith', 'Kumar', 'Novak', 'Silva', 'Okafor', 'Tanaka', 'Moreau', 'Kowalski',
  'Nguyen', 'Haddad', 'Fischer', 'Romano', 'Patel', 'Larsen',
] as const;

export const PRODUCTS = [
  'handbags', 'sneakers', 'wrist watches', 'sunglasses', 'wireless earbuds', 'perfume', 'wallets', 'phone cases', 'jackets',
  'silk scarves', 'belts', 'kids toys', 'skincare sets', 'running shoes', 'backpacks',
] as const;

export const EVIDENCE_NOTES = [
  'Test purchase confirmed counterfeit {brand} {product}: stitching, serial number and packaging do not match.',
  'Listing uses {brand} product photos and logo; price far below retail for {product}.',
  'Customer complaints about fake {brand} {product}; seller refused returns.',
  'Brand owner notice: {product} sold as genuine {brand}, no authorised distribution.',
  'Grey-market {brand} {product} shipped from outside the authorised region.',
  'Seller re-listed {brand} {product} under a new shop after an earlier takedown.',
  'Design of {brand} {product} copied; sold without the brand name.',
] as const;

/** Top-level domains of the invented web shops (real TLDs: the domain normaliser refuses unknown ones). */
export const SHOP_TLDS = ['shop', 'com', 'store', 'online', 'net'] as const;
export const EMAIL_DOMAINS = ['example.com', 'example.net', 'example.org'] as const;
