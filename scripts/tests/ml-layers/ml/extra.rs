pub struct Extra;
