//! Word lists for the synthetic catalogue. Changing them changes generated
//! files (and the fixture), so treat them as data with a version.

/// Top-level categories, each with product nouns for its subcategories.
pub const DEPARTMENTS: &[(&str, &[&str])] = &[
    ("Electronics", &["Headphone", "Speaker", "Charger", "Webcam", "Monitor", "Keyboard", "Mouse", "Router", "Power Bank", "Microphone", "Tablet Stand", "Smart Plug"]),
    ("Home Office", &["Desk Lamp", "Office Chair", "Standing Desk", "Monitor Arm", "Desk Organizer", "Filing Cabinet", "Whiteboard", "Footrest", "Cable Tray", "Bookshelf", "Desk Mat", "Paper Tray"]),
    ("Kitchen", &["Chef Knife", "Cutting Board", "Frying Pan", "Stock Pot", "Kettle", "Coffee Grinder", "Blender", "Toaster", "Mixing Bowl", "Spice Rack", "Measuring Cup", "Colander"]),
    ("Furniture", &["Sofa", "Armchair", "Coffee Table", "Dining Table", "Bed Frame", "Nightstand", "Wardrobe", "Dresser", "Bar Stool", "Bench", "TV Stand", "Shoe Rack"]),
    ("Outdoor", &["Tent", "Sleeping Bag", "Camping Stove", "Hiking Backpack", "Trekking Pole", "Headlamp", "Water Bottle", "Hammock", "Cooler", "Folding Chair", "Lantern", "Rain Jacket"]),
    ("Sports", &["Yoga Mat", "Dumbbell", "Kettlebell", "Resistance Band", "Jump Rope", "Foam Roller", "Tennis Racket", "Football", "Basketball", "Cycling Helmet", "Swim Goggle", "Gym Bag"]),
    ("Garden", &["Garden Hose", "Pruning Shear", "Planter", "Watering Can", "Wheelbarrow", "Garden Glove", "Rake", "Shovel", "Bird Feeder", "Compost Bin", "Lawn Sprinkler", "Seed Tray"]),
    ("Tools", &["Cordless Drill", "Screwdriver Set", "Hammer", "Tape Measure", "Spirit Level", "Wrench Set", "Utility Knife", "Tool Box", "Work Light", "Stud Finder", "Clamp", "Socket Set"]),
    ("Lighting", &["Floor Lamp", "Pendant Light", "Wall Sconce", "LED Strip", "Table Lamp", "Ceiling Fan Light", "Night Light", "String Light", "Reading Light", "Spotlight", "Light Bulb", "Lamp Shade"]),
    ("Bath", &["Bath Towel", "Shower Head", "Bath Mat", "Soap Dispenser", "Towel Rack", "Shower Curtain", "Toothbrush Holder", "Bathrobe", "Vanity Mirror", "Laundry Hamper", "Bath Caddy", "Scale"]),
    ("Bedding", &["Duvet", "Pillow", "Sheet Set", "Mattress Topper", "Blanket", "Throw", "Pillowcase", "Comforter", "Bed Skirt", "Weighted Blanket", "Quilt", "Mattress Protector"]),
    ("Kids", &["Building Block Set", "Puzzle", "Plush Toy", "Art Kit", "Kids Backpack", "Toy Car", "Board Game", "Play Tent", "Bath Toy", "Night Lamp", "Lunch Box", "Scooter"]),
    ("Pets", &["Dog Bed", "Cat Tree", "Pet Bowl", "Leash", "Pet Carrier", "Chew Toy", "Litter Box", "Grooming Brush", "Pet Fountain", "Scratching Post", "Dog Harness", "Aquarium Filter"]),
    ("Audio", &["Turntable", "Soundbar", "Amplifier", "Subwoofer", "Earbud", "DAC", "Studio Monitor", "Radio", "Headphone Stand", "Audio Cable", "Mixer", "Portable Speaker"]),
    ("Photography", &["Tripod", "Camera Bag", "Lens Filter", "Memory Card", "Ring Light", "Camera Strap", "Gimbal", "Light Stand", "Softbox", "Lens Cap", "Backdrop", "Camera Battery"]),
    ("Travel", &["Carry-On Suitcase", "Travel Pillow", "Packing Cube", "Passport Holder", "Luggage Tag", "Travel Adapter", "Toiletry Bag", "Duffel Bag", "Luggage Scale", "Eye Mask", "Neck Wallet", "Garment Bag"]),
    ("Stationery", &["Notebook", "Fountain Pen", "Pencil Set", "Planner", "Sticky Note Pad", "Highlighter Set", "Sketchbook", "Envelope Set", "Stapler", "Ruler", "Desk Calendar", "Marker Set"]),
    ("Storage", &["Storage Box", "Shelf Unit", "Hanging Organizer", "Drawer Divider", "Vacuum Bag", "Basket", "Closet Rod", "Under-Bed Box", "Wall Hook", "Pegboard", "Jar Set", "Crate"]),
    ("Wellness", &["Massage Gun", "Essential Oil Diffuser", "Heating Pad", "Air Purifier", "Humidifier", "Meditation Cushion", "Posture Corrector", "Sleep Mask", "Blood Pressure Monitor", "Thermometer", "Water Flosser", "Scale"]),
    ("Automotive", &["Car Charger", "Dash Cam", "Phone Mount", "Seat Cover", "Floor Mat", "Tire Inflator", "Jump Starter", "Car Vacuum", "Trunk Organizer", "Sunshade", "Ice Scraper", "Tire Gauge"]),
];

/// Price range in dollars per department (same order as `DEPARTMENTS`).
pub const PRICE_RANGES: &[(f64, f64)] = &[
    (9.0, 900.0),
    (12.0, 1200.0),
    (6.0, 400.0),
    (40.0, 2500.0),
    (8.0, 600.0),
    (5.0, 350.0),
    (4.0, 300.0),
    (6.0, 450.0),
    (5.0, 500.0),
    (4.0, 250.0),
    (15.0, 400.0),
    (5.0, 200.0),
    (5.0, 300.0),
    (15.0, 2000.0),
    (8.0, 900.0),
    (8.0, 500.0),
    (2.0, 120.0),
    (4.0, 250.0),
    (8.0, 450.0),
    (6.0, 300.0),
];

pub const ADJECTIVES: &[&str] = &[
    "Ergonomic", "Compact", "Premium", "Classic", "Modern", "Rustic", "Sleek", "Portable", "Heavy-Duty",
    "Lightweight", "Vintage", "Minimalist", "Deluxe", "Smart", "Foldable", "Adjustable", "Handcrafted",
    "Eco", "Rugged", "Elegant", "Essential", "Pro", "Ultra", "Cozy",
];

pub const MATERIALS: &[&str] = &[
    "Steel", "Oak", "Walnut", "Bamboo", "Aluminum", "Leather", "Cotton", "Linen", "Ceramic", "Glass",
    "Copper", "Brass", "Wool", "Silicone", "Carbon", "Granite", "Marble", "Canvas", "Titanium", "Maple",
];

pub const MODEL_LETTERS: &[&str] = &["X", "S", "Pro ", "Max ", "Z", "A", "V", "Neo ", "Air ", "GT"];

pub const BRAND_HEADS: &[&str] = &[
    "Nor", "Alt", "Bel", "Cor", "Dal", "Ever", "Fen", "Gal", "Hal", "Is", "Jun", "Kel", "Lum", "Mar", "Nov",
    "Or", "Pel", "Quin", "Ros", "Sol", "Tor", "Ul", "Val", "Wex", "Yar", "Zen", "Brio", "Cal", "Drift",
    "Ember", "Frost", "Glen",
];

pub const BRAND_TAILS: &[&str] = &[
    "vik", "ura", "mont", "dale", "crest", "wood", "ford", "haven", "line", "stone", "ora", "ex", "ia",
    "berg", "field", "works", "craft", "lab", "wave", "nest", "peak", "port", "gate", "well", "mark",
    "shire", "ton", "by", "ica", "ova", "en", "ar",
];

pub const FIRST_NAMES: &[&str] = &[
    "Ada", "Ben", "Chloe", "Dan", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jon", "Kira", "Liam", "Maya",
    "Noah", "Olga", "Pavel", "Quinn", "Rosa", "Sam", "Tara", "Umar", "Vera", "Wes", "Xena", "Yusuf", "Zoe",
    "Amir", "Bea", "Carl", "Dina", "Emil", "Fay", "Gus", "Hana", "Ivo", "June", "Kai", "Lena", "Milo", "Nia",
];

pub const LAST_NAMES: &[&str] = &[
    "Smith", "Garcia", "Chen", "Novak", "Okafor", "Rossi", "Kowalski", "Silva", "Nguyen", "Müller", "Haddad",
    "Johansson", "Tanaka", "Dubois", "Kim", "Patel", "Ivanova", "Moreau", "Costa", "Brown", "Lopez", "Ahmed",
    "Schmidt", "Yilmaz", "Walker", "Larsen", "Fischer", "Romero", "Singh", "Murphy",
];

pub const REVIEW_OPENERS: [&[&str]; 5] = [
    &["Disappointed.", "Would not buy again.", "Broke quickly.", "Not as described."],
    &["Below expectations.", "It works, barely.", "Mediocre.", "Had some issues."],
    &["Does the job.", "Okay for the price.", "Average.", "Decent, nothing special."],
    &["Very good.", "Happy with it.", "Solid purchase.", "Works well."],
    &["Excellent!", "Love it!", "Best purchase this year.", "Outstanding quality."],
];

pub const REVIEW_DETAILS: &[&str] = &[
    "Shipping was fast.",
    "The finish feels sturdy.",
    "Setup took five minutes.",
    "Smaller than I expected.",
    "Looks great in my home.",
    "Customer service was helpful.",
    "The instructions could be clearer.",
    "Good value for money.",
    "I use it every day.",
    "Bought a second one as a gift.",
];
