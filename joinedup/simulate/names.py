"""Name lists for the simulated district, by ethnic group, and the spelling variants noise uses.

The lists are our own modest selections of common given names and surnames; no real register
was copied. Invariants: every list is non-empty, names are in title case, and every name in a
transliteration group also appears as the group's key or a variant (the map is symmetric).
"""

from __future__ import annotations


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


ETHNIC_GROUPS: tuple[str, ...] = (
    "white_british",
    "pakistani",
    "bangladeshi",
    "indian",
    "black",
    "mixed",
    "eastern_european",
    "other",
)

_WB_BOYS = _words(
    "Oliver George Harry Jack Jacob Noah Charlie Thomas Oscar William James Leo Alfie Henry "
    "Joshua Freddie Archie Ethan Isaac Alexander Joseph Samuel Daniel Logan Edward Lucas Max "
    "Mason Dylan Riley Jake Lewis Ryan Tyler Connor Liam Callum Kieran Jordan Matthew Benjamin "
    "Luke Nathan Michael Christopher Robert Richard Anthony"
)
_WB_GIRLS = _words(
    "Olivia Amelia Isla Ava Emily Isabella Mia Poppy Ella Lily Grace Sophie Evie Ruby Freya "
    "Charlotte Jessica Chloe Daisy Phoebe Millie Lucy Holly Ellie Megan Katie Jasmine Abigail "
    "Elizabeth Rebecca Hannah Lauren Bethany Amy Leah Paige Courtney Chelsea Alice Florence "
    "Eleanor Victoria Catherine Margaret Samantha Jennifer"
)
_WB_SURNAMES = _words(
    "Smith Jones Taylor Brown Wilson Walker Wright Robinson Thompson Wood Hall Green Clarke "
    "Jackson Hill Harrison Lee Turner Whitehead Sutcliffe Holmes Shaw Greenwood Ackroyd Hirst "
    "Barker Mitchell Holroyd Priestley Butterfield Lister Pickles Firth Hartley Crossley "
    "Atkinson Marsden Haigh Booth Dawson Fletcher Midgley Naylor Rhodes Spencer Illingworth "
    "Wade Bentley Kershaw"
)

_PK_BOYS = _words(
    "Mohammed Muhammad Ali Hamza Ibrahim Yusuf Zain Ayaan Rayyan Haris Hassan Hussain Bilal "
    "Usman Umar Abdullah Adam Zakariya Musa Ismail Imran Faisal Tariq Zeeshan Kamran Adnan "
    "Shahzad Rizwan Asif Arslan Haider Abbas Danyal Zayan Armaan Subhan Shayan Rehan Sufyan "
    "Talha"
)
_PK_GIRLS = _words(
    "Aisha Fatima Maryam Zainab Hafsa Khadija Amina Inaya Safa Iqra Anaya Zara Hania Aleena "
    "Eman Mahnoor Sana Noor Alisha Ayesha Sadia Nadia Saima Rabia Kiran Humaira Sidra Mehwish "
    "Anum Hira Laiba Hoorain Areeba Alishba Amna Zoya Rimsha Hajra Samina Bushra"
)
_PK_SURNAMES = _words(
    "Khan Hussain Ahmed Ali Akhtar Iqbal Mahmood Hussain Shah Bibi Begum Rashid Mirza Butt "
    "Qureshi Malik Chaudhry Javed Aslam Bashir Hanif Rafiq Sadiq Younis Zaman Nawaz Riaz Ashraf "
    "Anwar Saleem Latif Farooq Rehman Sharif Tahir Majid Yaqoob Karim Arshad Mehmood"
)

_BD_BOYS = _words(
    "Mohammed Abdul Rahim Rahman Ahmed Hasan Sayed Jamal Faruk Kabir Rafiq Shahid Tanvir "
    "Nazmul Mizanur Shamim Rubel Sohel Arif Imran Yahya Zakir Nabil Tahmid Rayan Ishaq Sami "
    "Mahir Aariz Ayaan"
)
_BD_GIRLS = _words(
    "Fatema Nusrat Tasnim Sumaiya Jannat Ruksana Shirin Salma Shabana Farzana Rumana Sharmin "
    "Tahmina Nazia Lamia Afia Maliha Tanzila Raisa Anika Nafisa Samira Yasmin Aisha Amira "
    "Halima Marium Sadia Hafsa Inaaya"
)
_BD_SURNAMES = _words(
    "Begum Miah Uddin Islam Rahman Choudhury Hoque Ahmed Khatun Ali Hussain Alam Karim Sheikh "
    "Sarkar Bhuiyan Talukdar Molla Akter Kabir Chowdhury Haque Mia Sultana"
)

_IN_BOYS = _words(
    "Arjun Aarav Rohan Dev Jay Kiran Rahul Vikram Sanjay Ravi Harpreet Gurpreet Jaspreet "
    "Manpreet Amrit Sukhdeep Navdeep Ishaan Krish Neel Yash Aryan Kabir Jaskaran Harjot "
    "Mandeep Anil Sunil Rajesh Hardeep"
)
_IN_GIRLS = _words(
    "Priya Anjali Simran Navneet Jasleen Harleen Manpreet Ananya Diya Isha Riya Kiran Neha "
    "Pooja Sonia Meera Aditi Tanvi Kavya Saanvi Gurleen Amrita Harpreet Jaspreet Nisha Rupinder "
    "Sukhmani Avneet Rajvir Parveen"
)
_IN_SURNAMES = _words(
    "Patel Singh Kaur Sharma Kumar Gill Sandhu Sidhu Dhillon Bains Johal Mistry Parmar Chauhan "
    "Gupta Verma Bhatti Sohal Rana Thind Grewal Atwal Basra Shah Joshi Desai Mehta Kalsi"
)

_BL_BOYS = _words(
    "Daniel David Joshua Samuel Emmanuel Elijah Isaac Joseph Michael Tyrese Jayden Kai "
    "Malachi Nathaniel Caleb Marcus Andre Kwame Kofi Chidi Tobi Femi Abdi Ahmed Mohamed Yonas "
    "Tariq Jerome Leon Reuben"
)
_BL_GIRLS = _words(
    "Grace Blessing Precious Esther Favour Abigail Faith Hannah Naomi Zara Nia Amara Adaeze "
    "Chiamaka Ifeoma Ama Hodan Ayan Fartun Hamdi Deka Sagal Aaliyah Imani Keisha Shanice Tiana "
    "Rochelle Jada Maya"
)
_BL_SURNAMES = _words(
    "Okafor Adeyemi Mensah Owusu Boateng Johnson Williams Campbell Brown Francis Clarke "
    "Thomas Morgan Grant Reid Ali Mohamed Hassan Abdi Osman Farah Ibrahim Yusuf Nwosu Eze Okoro "
    "Asante Appiah Bello Daniels"
)

_EE_BOYS = _words(
    "Jakub Kacper Szymon Filip Mateusz Wojciech Antoni Adam Piotr Tomasz Lukas Matej Marek "
    "Dominik Patrik Jan Michal Pavel Andrei Alexandru Bogdan Ionut Stefan Daniel Rares Dawid "
    "Oskar Igor Krzysztof Marcel"
)
_EE_GIRLS = _words(
    "Zuzanna Julia Maja Hanna Lena Alicja Natalia Oliwia Amelia Wiktoria Nikola Karolina "
    "Tereza Eliska Veronika Klara Adela Denisa Andreea Ioana Maria Elena Bianca Gabriela "
    "Monika Kamila Weronika Martyna Patrycja Sara"
)
_EE_SURNAMES = _words(
    "Nowak Kowalski Wisniewski Wojcik Kowalczyk Kaminski Lewandowski Zielinski Szymanski "
    "Wozniak Dabrowski Kozlowski Horvath Balog Kovac Dvorak Novak Popescu Ionescu Popa Stan "
    "Dumitru Lakatos Sarkozi Gabor Oláh Kolar Varga Mazur Krawczyk"
)

_OT_BOYS = _words(
    "Omar Karim Ahmad Mustafa Youssef Ali Hassan Reza Amir Dara Kawa Rebin Sami Wei Jun Hao "
    "Minh Duc Khalid Tariq Nasir Farid Sherzad Hamid Ibrahim Elias Karwan Aram Jamal Zaki"
)
_OT_GIRLS = _words(
    "Layla Noor Yasmin Sara Mariam Leila Shirin Nazanin Rozhin Hana Mei Lin Xin Anh Linh "
    "Aya Huda Rania Dilan Hevin Zeynep Ela Elif Malak Salma Dina Farah Lina Rahaf Jana"
)
_OT_SURNAMES = _words(
    "Ahmadi Hosseini Rahimi Karimi Mohammadi Abdullah Hamid Aziz Said Mahmoud Saleh Kurdi "
    "Zhang Wang Chen Liu Nguyen Tran Yilmaz Kaya Demir Osman Haddad Nasser Rasul Barzani "
    "Taha Jaber Sultani Noori"
)

_MX_SURNAMES = tuple(_WB_SURNAMES[:25]) + tuple(_BL_SURNAMES[:10]) + tuple(_PK_SURNAMES[:8])

GIVEN_NAMES: dict[str, dict[str, tuple[str, ...]]] = {
    "white_british": {"M": tuple(_WB_BOYS), "F": tuple(_WB_GIRLS)},
    "pakistani": {"M": tuple(_PK_BOYS), "F": tuple(_PK_GIRLS)},
    "bangladeshi": {"M": tuple(_BD_BOYS), "F": tuple(_BD_GIRLS)},
    "indian": {"M": tuple(_IN_BOYS), "F": tuple(_IN_GIRLS)},
    "black": {"M": tuple(_BL_BOYS), "F": tuple(_BL_GIRLS)},
    "mixed": {
        "M": tuple(_WB_BOYS[:30]) + tuple(_BL_BOYS[:12]) + tuple(_PK_BOYS[:6]),
        "F": tuple(_WB_GIRLS[:30]) + tuple(_BL_GIRLS[:12]) + tuple(_PK_GIRLS[:6]),
    },
    "eastern_european": {"M": tuple(_EE_BOYS), "F": tuple(_EE_GIRLS)},
    "other": {"M": tuple(_OT_BOYS), "F": tuple(_OT_GIRLS)},
}

SURNAMES: dict[str, tuple[str, ...]] = {
    "white_british": tuple(_WB_SURNAMES),
    "pakistani": tuple(_PK_SURNAMES),
    "bangladeshi": tuple(_BD_SURNAMES),
    "indian": tuple(_IN_SURNAMES),
    "black": tuple(_BL_SURNAMES),
    "mixed": _MX_SURNAMES,
    "eastern_european": tuple(_EE_SURNAMES),
    "other": tuple(_OT_SURNAMES),
}

# Names that are religious or honorific elements used as surnames, often differing between
# siblings (sisters Begum or Kaur, brothers Singh, Miah or Ali).
GIRL_SURNAME_ELEMENTS: dict[str, tuple[str, ...]] = {
    "pakistani": ("Bibi", "Begum"),
    "bangladeshi": ("Begum", "Khatun", "Akter"),
    "indian": ("Kaur",),
}
BOY_SURNAME_ELEMENTS: dict[str, tuple[str, ...]] = {
    "pakistani": ("Khan", "Ali"),
    "bangladeshi": ("Miah", "Uddin", "Ali"),
    "indian": ("Singh",),
}

# Transliteration groups: every spelling in a group is a variant of every other.
_TRANSLITERATION_GROUPS: tuple[tuple[str, ...], ...] = (
    ("Mohammed", "Muhammad", "Mohammad", "Mohamed", "Muhammed", "Mohamad"),
    ("Hussain", "Hussein", "Husain", "Hosain"),
    ("Choudhury", "Chowdhury", "Chaudhry", "Chaudhary", "Choudhry"),
    ("Ahmed", "Ahmad", "Ahmet"),
    ("Rahman", "Rehman"),
    ("Mahmood", "Mahmud", "Mehmood"),
    ("Yusuf", "Yousaf", "Yousuf", "Youssef"),
    ("Aisha", "Ayesha", "Aysha"),
    ("Fatima", "Fatema", "Fathima"),
    ("Maryam", "Mariam", "Mariyam"),
    ("Zainab", "Zaynab"),
    ("Khadija", "Khadijah", "Khadeeja"),
    ("Hamza", "Hamzah"),
    ("Zakariya", "Zakaria", "Zakariyya"),
    ("Usman", "Osman", "Uthman"),
    ("Umar", "Omar"),
    ("Ibrahim", "Ebrahim"),
    ("Ismail", "Ismael"),
    ("Haque", "Hoque", "Huq"),
    ("Miah", "Mia"),
    ("Uddin", "Udin"),
    ("Islam", "Islaam"),
    ("Yaqoob", "Yakub", "Yaqub"),
    ("Rafiq", "Rafique"),
    ("Farooq", "Faruk", "Farouk"),
    ("Qureshi", "Kureshi", "Qureishi"),
    ("Iqbal", "Ikbal"),
    ("Sadiq", "Sadique"),
    ("Wisniewski", "Wiśniewski"),
    ("Wojcik", "Wójcik"),
    ("Dabrowski", "Dąbrowski"),
    ("Kozlowski", "Kozłowski"),
    ("Zielinski", "Zieliński"),
    ("Szymanski", "Szymański"),
    ("Kaminski", "Kamiński"),
    ("Wozniak", "Woźniak"),
    ("Dvorak", "Dvořák"),
    ("Horvath", "Horváth"),
    ("Oláh", "Olah"),
    ("Adeyemi", "Adeyemmi"),
    ("Okafor", "Okafo"),
    ("Nguyen", "Nguyễn"),
)

TRANSLITERATIONS: dict[str, tuple[str, ...]] = {
    name: tuple(v for v in group if v != name)
    for group in _TRANSLITERATION_GROUPS
    for name in group
}

TOWNS: tuple[str, ...] = ("Brackendale", "Shipton", "Keighworth", "Ilkdon", "Bingsley")
STREET_STEMS: tuple[str, ...] = tuple(
    _words(
        "Manningham Leeds Otley Thornton Allerton Heaton Frizinghall Lister Whetley Girlington "
        "Legrams Ripley Wakefield Bowling Barkerend Undercliffe Idle Eccleshill Bolton Wrose "
        "Fagley Laisterdyke Tong Holme Wyke Low Moor Odsal Horton Marshfield Little Horton "
        "Canterbury Woodhall Buttershaw Clayton Queensbury Denholme Cullingworth Harden Haworth "
        "Oxenhope Steeton Silsden Addingham Menston Burley Baildon Shipley Saltaire Cottingley "
        "Wilsden Sandy Lane Daisy Hill Lidget Green Scholemoor Princeville Moorside Ravenscliffe"
    )
)
STREET_SUFFIXES: tuple[str, ...] = (
    "Road",
    "Street",
    "Lane",
    "Avenue",
    "Terrace",
    "Grove",
    "Close",
    "Drive",
    "Crescent",
    "Place",
    "Way",
    "Gardens",
)
WARD_STEMS: tuple[str, ...] = (
    "Aire Valley",
    "Ashcliffe",
    "Bankfoot",
    "Beckside",
    "Blackmoor",
    "Bramhope Edge",
    "Calder Heights",
    "Carr Bottom",
    "Chellow",
    "Clough Head",
    "Cragg Vale",
    "Delph Hill",
    "Eastbrook",
    "Fairweather",
    "Fell Lane",
    "Gilstead",
    "Greengates",
    "Hallfield",
    "Heather Moor",
    "High Royd",
    "Hollin Bank",
    "Kirkgate",
    "Low Fold",
    "Moorhead",
    "Nab Wood",
    "Northcliffe",
    "Oakworth Rise",
    "Ravensbrook",
    "Rombalds",
    "Scar Top",
    "Shaw Fold",
    "Stonegate",
    "Thackley",
    "Towngate",
    "Undercroft",
    "Westfield",
)
